"""File-upload rules: per-plan size limits, accepted content types, and the content check
(the bytes must be what the content type says)."""

from __future__ import annotations

from batchcook.testing.notion_emulator.errors import validation

MiB = 1024 * 1024
#: Per-file upload limit by plan (bot.workspace_limits.max_file_upload_size_in_bytes).
PLAN_UPLOAD_LIMITS = {"free": 5 * MiB, "paid": 5 * 1024 * MiB}
SINGLE_PART_LIMIT = 20 * MiB
UPLOAD_LIFETIME = 3600.0
FILE_URL_LIFETIME = 3600.0

#: Content types Notion accepts for uploads (the ones a recipe service could send), with
#: the extensions that must match them.
UPLOAD_TYPES: dict[str, tuple[str, ...]] = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/webp": (".webp",),
    "image/gif": (".gif",),
    "image/svg+xml": (".svg",),
    "image/tiff": (".tif", ".tiff"),
    "image/heic": (".heic",),
    "image/vnd.microsoft.icon": (".ico",),
    "application/pdf": (".pdf",),
    "text/plain": (".txt",),
}
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF",),
}


def check_type(content_type: str, filename: str | None) -> None:
    if content_type not in UPLOAD_TYPES:
        raise validation(f"Unsupported content_type for a file upload: `{content_type}`.")
    if filename is not None:
        extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if extension not in UPLOAD_TYPES[content_type]:
            raise validation(
                f"The filename extension `{extension or '(none)'}` does not match the "
                f"content_type `{content_type}`."
            )


def check_content(content_type: str, data: bytes) -> None:
    magic = _MAGIC.get(content_type)
    webp_ok = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if (magic and not data.startswith(magic)) or (content_type == "image/webp" and not webp_ok):
        raise validation(f"The file's content is not a valid {content_type} file.")
