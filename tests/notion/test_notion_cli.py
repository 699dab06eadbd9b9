"""``batchcook emulate notion`` serves an emulator a user can point NOTION_BASE_URL at, with
a page to try ``batchcook notion init`` on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx

from batchcook.testing.server import free_port


def test_emulate_notion_serves_the_recipe_database() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "batchcook.cli", "emulate", "notion", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        settings = dict(
            line.split("=", 1) for line in (process.stdout.readline().strip() for _ in range(4))
        )
        process.stdout.readline()  # where to see pages
        try_init = process.stdout.readline().split(": ", 1)[1].split()
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(
                    f"{settings['NOTION_BASE_URL']}/v1/databases/"
                    f"{settings['NOTION_RECIPES_DATABASE_ID']}",
                    headers={
                        "Authorization": f"Bearer {settings['NOTION_TOKEN']}",
                        "Notion-Version": "2025-09-03",
                    },
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.json()["data_sources"][0]["name"] == "Recipes"
        # The printed `batchcook notion init` line works as it is.
        assert try_init[:3] == ["batchcook", "notion", "init"]
        init = subprocess.run(
            [sys.executable, "-m", "batchcook.cli", *try_init[1:], "--json"],
            env={**os.environ, **settings},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert init.returncode == 0, init.stderr
        assert json.loads(init.stdout)["url"].startswith("https://www.notion.so/")
    finally:
        process.terminate()
        process.wait(10)
