namespace Laps.Simulation.Arrivals;

// INTERIM: replaced by the workloads branch.
public interface IArrivalProcess
{
    double[] Generate(int n, double ratePerSecond, Random random);
}

public static class ArrivalSpec
{
    public static IArrivalProcess Parse(string spec) => new Poisson();

    private sealed class Poisson : IArrivalProcess
    {
        public double[] Generate(int n, double ratePerSecond, Random random)
        {
            var t = 0.0;
            var result = new double[n];
            for (var i = 0; i < n; i++)
            {
                t += -Math.Log(1 - random.NextDouble()) / ratePerSecond;
                result[i] = t;
            }

            return result;
        }
    }
}
