; Inno Setup 6 definition of the Mamori agent installer. Build on Windows, see README.md:
;   iscc /DAppVersion=0.1.0 packaging\windows\mamori-agent.iss
; Installs dist\mamori-agent\ (PyInstaller) to Program Files, registers the MamoriAgent service
; (automatic start, restart on failure, state in %ProgramData%\Mamori for SYSTEM and Administrators only)
; and starts it once the terminal is enrolled. Uninstalling records the removal before stopping the agent.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6E0C3A52-6F1B-4E86-9C1D-6D616D6F7269}
AppName=Mamori Agent
AppVersion={#AppVersion}
AppPublisher=Mamori
DefaultDirName={autopf}\Mamori\Agent
DisableDirPage=yes
DisableProgramGroupPage=yes
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=mamori-agent-setup-{#AppVersion}
Compression=lzma2
SolidCompression=yes
; The service holds files open: stop it before files are replaced (see PrepareToInstall below).
CloseApplications=no
UninstallDisplayName=Mamori Agent

[Files]
Source: "..\..\dist\mamori-agent\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion
; The documented default config, only on first install: an upgrade keeps the local one.
Source: "..\config\agent.toml"; DestDir: "{commonappdata}\Mamori"; Flags: onlyifdoesntexist uninsneveruninstall

[Run]
; Creates or updates the service, sets recovery actions, the Event Log source and the state folder's ACL,
; and starts the agent.
Filename: "{app}\mamori-agent.exe"; Parameters: "--state-dir ""{commonappdata}\Mamori"" service install"; \
  Flags: runhidden waituntilterminated; StatusMsg: "Registering the Mamori Agent service..."

[UninstallRun]
; Records "package removed" in the spool, stops and deletes the service. State (enrollment, unsent events)
; stays in %ProgramData%\Mamori; delete that folder by hand to remove everything.
Filename: "{app}\mamori-agent.exe"; Parameters: "--state-dir ""{commonappdata}\Mamori"" service record-removal"; \
  Flags: runhidden waituntilterminated; RunOnceId: "RecordRemoval"
Filename: "{app}\mamori-agent.exe"; Parameters: "--state-dir ""{commonappdata}\Mamori"" service remove"; \
  Flags: runhidden waituntilterminated; RunOnceId: "RemoveService"

[Code]
function PrepareToInstall(var NeedsRestart: Boolean): String;
var
  ResultCode: Integer;
begin
  { An upgrade: stop the running agent (an orderly stop through the SCM) so its files can be replaced. }
  Exec(ExpandConstant('{sys}\sc.exe'), 'stop MamoriAgent', '', SW_HIDE, ewWaitUntilTerminated, ResultCode);
  Sleep(3000);
  Result := '';
end;
