"""Buy/sell/hold signals: indicator rules, a trained model and their honest evaluation.

Pure domain code (numpy, TA-Lib, scikit-learn, skops): no web, database or cache imports.
"""
