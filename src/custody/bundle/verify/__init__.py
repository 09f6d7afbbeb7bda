"""bundle.verify"""
