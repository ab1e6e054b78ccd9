"""The `grievance` command line: parse the input, call the service layer, print the result."""
