"""Gradebook: subjects, grades and (in later issues) categories, averages and term grades."""
