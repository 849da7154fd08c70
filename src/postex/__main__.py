from postex.cli.main import main

main()
