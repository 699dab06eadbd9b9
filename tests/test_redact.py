import logging

from batchcook.api.redact import RedactQuery, redact_url


def test_secret_parameters_are_redacted_and_others_kept() -> None:
    assert (
        redact_url("/api/jobs?key=sk-1&status=failed") == "/api/jobs?key=[redacted]&status=failed"
    )
    assert (
        redact_url("/x?API_KEY=a&Token=b&keys=c") == "/x?API_KEY=[redacted]&Token=[redacted]&keys=c"
    )
    assert redact_url("/x?%6Bey=sk-1") == "/x?%6Bey=[redacted]"  # an encoded name is still a key
    assert redact_url("/healthz") == "/healthz"


def test_filter_rewrites_uvicorn_access_records() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/recipes?prompt=soup&key=sk-1", "1.1", 202),
        None,
    )
    assert RedactQuery().filter(record)
    assert "sk-1" not in record.getMessage() and "key=[redacted]" in record.getMessage()
