from rfactory.cli import main

main()
