# --- Secret Manager: the plane's secrets (values are added out of band, never in state) ---
resource "google_secret_manager_secret" "controlplane" {
  for_each  = toset(local.secrets)
  secret_id = "${local.name}-${each.value}"
  labels    = local.labels
  replication {
    auto {}
  }
}

# The plane reads and rotates its own secrets (secret-breach playbook) and no others.
resource "google_secret_manager_secret_iam_member" "controlplane" {
  for_each  = google_secret_manager_secret.controlplane
  secret_id = each.value.id
  role      = "roles/secretmanager.secretVersionManager"
  member    = "serviceAccount:${google_service_account.controlplane.email}"
}

resource "google_secret_manager_secret_iam_member" "controlplane_read" {
  for_each  = google_secret_manager_secret.controlplane
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.controlplane.email}"
}
