print("lattice-canvas: not built yet")
