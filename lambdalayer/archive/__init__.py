"""Stage 6, archive: the audited tree as a deterministic zip and its manifest.

Takes a layer tree; gives `NAME.zip` (written by `zipwriter.write_zip`, byte for
byte the same on any host), `NAME.json` (`manifest`), RECORD files that describe
what ships (`record`) and, for `--unpacked`, the tree extracted from the zip
(`unpack`). `compressor` tells whether this host's zlib writes the reference bytes.
"""
