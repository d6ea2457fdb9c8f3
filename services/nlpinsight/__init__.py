"""NLPInsight: three-class financial-news sentiment with TF-IDF and logistic regression."""
