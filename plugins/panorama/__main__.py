if __name__ == "__main__":
    from panorama.cli import main

    raise SystemExit(main())
