"""tlog"""
