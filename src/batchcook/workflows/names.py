"""The names of our DBOS workflows and queues, each written once: listing, adopting,
sweeping and counting jobs all filter workflows by these names, and a workflow renamed in
one place but not another would silently drop out of them. No imports: the CLI reads these
before it loads DBOS."""

from __future__ import annotations

CREATE_RECIPE = "create_recipe"
MODIFY_RECIPE = "modify_recipe"
JOB_WORKFLOWS = (CREATE_RECIPE, MODIFY_RECIPE)  # a job is one run of one of these
COLLECT_ROUND = "collect_round"
FOLLOW_ROUND = "follow_round"
ROUND_WORKFLOWS = (COLLECT_ROUND, FOLLOW_ROUND)  # shared batches: gather, then follow

JOB_EVENT = "job"  # the DBOS event that holds a job's record (batchcook.jobs.Job)

QUEUE = "recipes"  # the DBOS queue workers take jobs from
COLLECT_QUEUE = "collector"  # collector rounds: one gathers at a time (deduplicated)
SWEEP_QUEUE = "sweep"  # the scheduled sweep, apart so waiting jobs never starve it
