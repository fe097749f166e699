//! Low-level REST clients for the E2B control plane, generated from `spec/openapi.yml`.
