"""The agent's local control channel: the CLI asks the running agent instead of opening its spool or files."""
