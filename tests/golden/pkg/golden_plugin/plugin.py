class GoldenPlugin:
    pass
