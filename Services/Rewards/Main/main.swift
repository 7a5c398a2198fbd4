print("lattice-rewards: not built yet")
