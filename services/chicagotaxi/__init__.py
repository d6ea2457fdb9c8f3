"""ChicagoTaxi: hourly trip demand per community area from lag features, temporal split."""
