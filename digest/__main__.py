from digest.cli import main

if __name__ == "__main__":  # a send's helper processes import this module again (spawn)
    main()
