"""``batchcook emulate notion`` serves an emulator a user can point NOTION_BASE_URL at."""

from __future__ import annotations

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
    finally:
        process.terminate()
        process.wait(10)
