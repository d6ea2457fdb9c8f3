# --- Secrets Manager: the plane's secrets (values are added out of band, never in state) ---
resource "aws_secretsmanager_secret" "controlplane" {
  for_each                = toset(local.secrets)
  name                    = "${local.name}/${each.value}"
  recovery_window_in_days = var.environment == "production" ? 30 : 7
}

# The plane reads and rotates its own secrets (secret-breach playbook) and no others.
data "aws_iam_policy_document" "controlplane_secrets" {
  statement {
    actions = [
      "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
      "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = [for s in aws_secretsmanager_secret.controlplane : s.arn]
  }
}

resource "aws_iam_role_policy" "controlplane_secrets" {
  name   = "own-secrets"
  role   = aws_iam_role.controlplane.id
  policy = data.aws_iam_policy_document.controlplane_secrets.json
}
