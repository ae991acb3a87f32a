from gclog.cli import main

main()
