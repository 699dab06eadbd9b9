"""batchcook: recipes generated through the OpenAI Batch API and filed in Notion."""

__version__ = "0.1.0"
