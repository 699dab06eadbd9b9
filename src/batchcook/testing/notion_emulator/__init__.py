"""A faithful, stateful Notion API emulator (version 2025-09-03) for tests and demos.

Drive it with the official ``notion-client`` pointed at it (``base_url=``); see
``NotionEmulator`` for the knobs (clock, rate limit, fault plans, plan limits).
"""

from batchcook.testing.notion_emulator.clock import Clock
from batchcook.testing.notion_emulator.emulator import SUPPORTED_VERSIONS, NotionEmulator
from batchcook.testing.notion_emulator.faults import Fault, FaultPlan

__all__ = ["SUPPORTED_VERSIONS", "Clock", "Fault", "FaultPlan", "NotionEmulator"]
