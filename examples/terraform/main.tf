# The layer lambdalayer built, published by Terraform. Build first, from this directory:
#
#   lambdalayer build deps -r requirements.txt --runtime python3.12
#   terraform init && terraform apply
#
# `build` writes dist/deps.zip and its manifest dist/deps.json for a pure-Python layer; a
# layer with native code built for both architectures is dist/deps-x86_64.* and
# dist/deps-arm64.*: two versions of the one layer "deps", one per architecture
# (docs/ci.md#one-layer-name-per-layer). Either way, every manifest found becomes one
# aws_lambda_layer_version. The manifest's code_sha256 is what source_code_hash expects
# (filebase64sha256 of the zip), so an unchanged build changes nothing.

terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}

variable "layer" {
  description = "The layer's name in lambdalayer (dist/NAME.json or dist/NAME-ARCH.json)."
  type        = string
  default     = "deps"
}

locals {
  dist = "${path.module}/dist"
  # NAME.json, or NAME-x86_64.json and NAME-arm64.json: whichever the build wrote.
  manifest_files = [
    for stem in [var.layer, "${var.layer}-x86_64", "${var.layer}-arm64"] :
    "${local.dist}/${stem}.json" if fileexists("${local.dist}/${stem}.json")
  ]
  manifests = { for f in local.manifest_files : trimsuffix(basename(f), ".json") => jsondecode(file(f)) }
}

resource "aws_lambda_layer_version" "layer" {
  for_each                 = local.manifests
  layer_name               = each.value.name
  filename                 = "${local.dist}/${each.value.zip}"
  source_code_hash         = each.value.code_sha256
  compatible_runtimes      = each.value.runtimes
  compatible_architectures = each.value.architectures
  description              = each.value.description
  license_info             = each.value.license
}

# Each architecture's version ARN, for aws_lambda_function.layers of a function on it.
output "layer_arns" {
  value = { for key, layer in aws_lambda_layer_version.layer :
    join(",", layer.compatible_architectures) => layer.arn }
}
