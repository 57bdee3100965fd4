__version__ = "0.1.0"

from .forecast import Forecaster, Forecast
