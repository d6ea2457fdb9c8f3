"""BankChurn: churn classifier over the seed's 10 customer features, threshold 0.35."""
