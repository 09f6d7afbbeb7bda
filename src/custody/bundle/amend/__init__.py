"""bundle.amend"""
