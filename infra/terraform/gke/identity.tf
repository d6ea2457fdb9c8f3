# --- identities: the plane by Workload Identity; CI by GitHub OIDC (no JSON keys anywhere) ---
resource "google_service_account" "controlplane" {
  account_id   = "${local.name}-controlplane"
  display_name = "The control plane in ${var.environment} (its secrets, nothing else)"
}

resource "google_service_account_iam_member" "controlplane_workload_identity" {
  service_account_id = google_service_account.controlplane.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.cloud_account}.svc.id.goog[${local.controlplane_ksa}]"
}

resource "google_iam_workload_identity_pool" "github" {
  workload_identity_pool_id = "${local.name}-github"
  display_name              = "GitHub Actions of ${var.github_repository}"
}

resource "google_iam_workload_identity_pool_provider" "github" {
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
    "attribute.ref"        = "assertion.ref"
  }
  attribute_condition = "assertion.repository == \"${var.github_repository}\""
  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

# CI builds and pushes images; it has no role on the cluster: deploys go through the plane.
resource "google_service_account" "ci" {
  account_id   = "${local.name}-ci"
  display_name = "GitHub Actions image builds for ${var.environment} (push only)"
}

resource "google_service_account_iam_member" "ci_federation" {
  service_account_id = google_service_account.ci.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository/${var.github_repository}"
}
