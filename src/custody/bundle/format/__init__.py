"""bundle.format"""
