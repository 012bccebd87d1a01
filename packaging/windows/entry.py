"""PyInstaller entry point: `mamori-agent.exe winservice ...` hosts the Windows service, anything else is the CLI."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "winservice":
    from agent.host.windows.service import main

    main(sys.argv[2:])
else:
    from agent.cli import main

    sys.exit(main())
