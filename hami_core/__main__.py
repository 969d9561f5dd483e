"""``python -m hami_core`` is ``hami-core``."""
from .cli import main

main()
