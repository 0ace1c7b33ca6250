"""``make demo``: replays the seed tutorial's autograd cells on ember and checks the printed text."""
from .tutorial import main

if __name__ == "__main__":
    raise SystemExit(main())
