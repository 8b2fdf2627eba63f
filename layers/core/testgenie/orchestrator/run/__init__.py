"""The run loop: phases one by one through a phase executor, each in a private workspace."""
