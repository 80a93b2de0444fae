from lago_cli.main import main

main()
