from postex.entrypoints.cli.main import main

main()
