terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.20"
    }
  }
  # Remote state, one prefix per environment: terraform init -backend-config=environments/<env>.gcs.tfbackend
  backend "gcs" {}
}

provider "google" {
  project = var.cloud_account
  region  = var.region
}
