"""bundle.write"""
