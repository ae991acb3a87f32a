from gclog.entry.cli import main

main()
