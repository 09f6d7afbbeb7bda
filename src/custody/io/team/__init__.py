"""io.team"""
