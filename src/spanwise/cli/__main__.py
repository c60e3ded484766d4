from spanwise.cli import main

main()
