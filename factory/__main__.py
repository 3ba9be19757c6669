from rfactory.cli import main

if __name__ == "__main__":  # engines that start worker processes by spawning re-import this module
    main()
