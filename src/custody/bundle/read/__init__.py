"""bundle.read"""
