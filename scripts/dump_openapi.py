"""Write the server's OpenAPI spec to a file (the console's TypeScript types come from it).

Usage: python scripts/dump_openapi.py ui/openapi.json
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def main() -> None:
    from airfoil.server import ServerConfig, create_app

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "ui/openapi.json")
    with tempfile.TemporaryDirectory() as home:  # nothing is opened until the app starts
        spec = create_app(ServerConfig(home=home, run_engine=False)).openapi()
    text = json.dumps(spec, indent=1, sort_keys=True) + "\n"
    target.write_text(text)


if __name__ == "__main__":
    main()
