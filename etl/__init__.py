"""topup-recon: nightly three-way reconciliation of top-up orders, provider statements and billing."""
