"""Lambda's size limits for layers, in one place (docs/lambda-facts.md).

Lambda counts bytes, not MiB: a function and all its layers together may unzip to
at most 262,144,000 bytes, and a zip uploaded directly (not through S3) may be at
most 50 MiB. Descriptions and licenses of a layer version have length limits too.
"""

from __future__ import annotations

UNZIPPED_LIMIT = 262_144_000  # a function and all its layers, unzipped
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # a zip passed as ZipFile, not through S3
DESCRIPTION_LIMIT = 256  # PublishLayerVersion's Description
LICENSE_LIMIT = 512  # PublishLayerVersion's LicenseInfo
