"""Reports about built or published layers: sizes, savings, differences, HTML.

Takes layer trees, zips, manifests or ARNs (downloaded through aws/); gives
`sizing.SizeReport` (where the bytes go and what each size option would save),
`diff.LayerDiff`, the treemap and the self-contained HTML report. Nothing here
changes a layer.
"""
