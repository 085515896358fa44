"""The command line: click commands that parse, call the Python API and format."""
