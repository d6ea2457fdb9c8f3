# --- cluster: private nodes, Workload Identity, Dataplane V2 (enforces NetworkPolicy) ---
resource "google_container_cluster" "main" {
  name                     = local.name
  location                 = var.region
  network                  = google_compute_network.main.id
  subnetwork               = google_compute_subnetwork.nodes.id
  min_master_version       = var.kubernetes_version
  remove_default_node_pool = true
  initial_node_count       = 1
  deletion_protection      = var.environment == "production"
  datapath_provider        = "ADVANCED_DATAPATH"
  resource_labels          = local.labels

  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }
  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = "172.16.0.0/28"
  }
  workload_identity_config {
    workload_pool = "${var.cloud_account}.svc.id.goog"
  }
  release_channel {
    channel = "REGULAR"
  }
}

resource "google_service_account" "nodes" {
  account_id   = "${local.name}-nodes"
  display_name = "GKE nodes of ${local.name} (logs, metrics, image pulls only)"
}

resource "google_project_iam_member" "nodes" {
  for_each = toset(["roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/artifactregistry.reader"])
  project  = var.cloud_account
  role     = each.value
  member   = "serviceAccount:${google_service_account.nodes.email}"
}

# System pool: kube-system, monitoring and the control plane (nodeSelector mlops.io/pool=system).
resource "google_container_node_pool" "system" {
  name       = "system"
  cluster    = google_container_cluster.main.id
  node_count = var.system_node_count
  version    = var.kubernetes_version
  node_config {
    machine_type    = var.system_machine_type
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels          = { "mlops.io/pool" = "system" }
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
    shielded_instance_config {
      enable_secure_boot = true
    }
  }
  management {
    auto_repair  = true
    auto_upgrade = true
  }
}

# Workload pool: the ML services, scaled by the cluster autoscaler as their HPAs grow.
resource "google_container_node_pool" "workload" {
  name    = "workload"
  cluster = google_container_cluster.main.id
  version = var.kubernetes_version
  autoscaling {
    min_node_count = var.workload_min_nodes
    max_node_count = var.workload_max_nodes
  }
  node_config {
    machine_type    = var.workload_machine_type
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels          = { "mlops.io/pool" = "workload" }
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
    shielded_instance_config {
      enable_secure_boot = true
    }
  }
  management {
    auto_repair  = true
    auto_upgrade = true
  }
}
